"""Files to `Dataset` (or a `Split` for pre-split benchmarks): public data sets by name, loaders for
their formats, a shop's own event logs, and cached, checksum-verified downloads.

Every loader reports a malformed input as a `DataError` naming the file, line, column and what was
expected. Where a reasonable user wants the data loaded anyway, a loader warns instead (a
`shoprec.exceptions.DataWarning` naming what was dropped or changed, how many and where);
`strict=True` on any loader (or `strict_data()` around any code) turns those warnings into errors.
Display names of items, where a source has them, are in `dataset.metadata["item_titles"]`
(`ITEM_TITLES`), a list aligned with the item index.
"""

from shoprec.data.sources._assemble import ITEM_TITLES
from shoprec.data.sources._features import FeatureKind
from shoprec.data.sources._policy import strict_data
from shoprec.data.sources.amazon import load_amazon_ratings, load_amazon_reviews, load_amazon_sequences, load_rechorus
from shoprec.data.sources.download import cache_dir, fetch
from shoprec.data.sources.event_log import DEFAULT_EVENT_WEIGHTS, ColumnMapping, load_event_log, read_source
from shoprec.data.sources.frappe import load_frappe
from shoprec.data.sources.movielens import load_movielens, load_movielens_100k, load_movielens_csv, load_movielens_dat
from shoprec.data.sources.ncf import load_ncf_split
from shoprec.data.sources.registry import DatasetInfo, dataset_info, download_dataset, list_datasets, load_dataset

__all__ = [
    "DEFAULT_EVENT_WEIGHTS",
    "ITEM_TITLES",
    "ColumnMapping",
    "DatasetInfo",
    "FeatureKind",
    "cache_dir",
    "dataset_info",
    "download_dataset",
    "fetch",
    "list_datasets",
    "load_amazon_ratings",
    "load_amazon_reviews",
    "load_amazon_sequences",
    "load_dataset",
    "load_event_log",
    "load_frappe",
    "load_movielens",
    "load_movielens_100k",
    "load_movielens_csv",
    "load_movielens_dat",
    "load_ncf_split",
    "load_rechorus",
    "read_source",
    "strict_data",
]
