"""The training asset's launchpad config is the model's hyperparameters, the trainer, and one
switch."""

import dagster as dg

from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.graph.assets.training import TrainingConfig, trained_model_asset
from mlops_assets.graph.trainer_runs import TrainerConfig
from mlops_assets.ml.model import TrainSettings


def test_the_launchpad_shows_every_hyperparameter_and_trainer_field_with_its_description():
    trained_model = trained_model_asset(load_fleet().model("task_photos"), dg.RetryPolicy())
    fields = trained_model.op.config_schema.config_type.fields
    trainer_fields = set(TrainerConfig.model_fields)
    assert trainer_fields == {"trainer", "trainer_args", "trainer_timeout_s"}
    assert set(fields) == set(TrainSettings.model_fields) | trainer_fields | {"shuffle_labels"}
    for name, info in {**TrainSettings.model_fields, **TrainerConfig.model_fields}.items():
        assert fields[name].description == info.description
        assert fields[name].default_value == info.default or not fields[name].default_provided
    argument_fields = fields["trainer_args"].config_type.inner_type.inner_type.fields
    assert set(argument_fields) == {"name", "value", "kind"}
    assert all(f.description for f in argument_fields.values())


def test_the_config_builds_the_settings_the_model_trains_with():
    config = TrainingConfig(epochs=3, filters=8, trainer="mlp")
    settings = TrainSettings(**config.model_dump(include=set(TrainSettings.model_fields)))
    assert (settings.epochs, settings.filters, settings.batch_size) == (3, 8, 64)
    assert config.trainer == "mlp" and config.trainer_args == []
