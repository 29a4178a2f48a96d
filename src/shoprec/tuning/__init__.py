"""`shoprec tune`: Optuna search over a model's hyperparameters on the validation split, never the test split.

spec, settings = read_tune_file("tune.toml")
result = tune(spec, prepare_split(spec), settings)
write_outputs(result, "tuned/")  # best.toml for `shoprec train --config`, trials.csv
"""

from shoprec.tuning.objective import Objective, TuningData, pruning_hook, tuning_data
from shoprec.tuning.output import BEST_FILE, TRIALS_FILE, spec_toml, toml_value, write_outputs, write_trials_csv
from shoprec.tuning.settings import LOWER_IS_BETTER, PRUNERS, SAMPLERS, TuneSettings, read_tune_file
from shoprec.tuning.space import Dimension, parse_space
from shoprec.tuning.study import TrialRow, TuneResult, import_optuna, tune

__all__ = [
    "BEST_FILE",
    "LOWER_IS_BETTER",
    "PRUNERS",
    "SAMPLERS",
    "TRIALS_FILE",
    "Dimension",
    "Objective",
    "TrialRow",
    "TuneResult",
    "TuneSettings",
    "TuningData",
    "import_optuna",
    "parse_space",
    "pruning_hook",
    "read_tune_file",
    "spec_toml",
    "toml_value",
    "tune",
    "tuning_data",
    "write_outputs",
    "write_trials_csv",
]
