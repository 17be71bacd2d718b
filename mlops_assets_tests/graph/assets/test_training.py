"""The training asset's launchpad config is the model's hyperparameters, plus one switch."""

from mlops_assets.graph.assets.training import TrainingConfig, trained_model
from mlops_assets.ml.model import TrainSettings


def test_the_launchpad_shows_every_hyperparameter_with_its_description():
    fields = trained_model.op.config_schema.config_type.fields
    assert set(fields) == set(TrainSettings.model_fields) | {"shuffle_labels"}
    for name, info in TrainSettings.model_fields.items():
        assert fields[name].description == info.description
        assert fields[name].default_value == info.default


def test_the_config_builds_the_settings_the_model_trains_with():
    config = TrainingConfig(epochs=3, filters=8)
    settings = TrainSettings(**config.model_dump(exclude={"shuffle_labels"}))
    assert (settings.epochs, settings.filters, settings.batch_size) == (3, 8, 64)
