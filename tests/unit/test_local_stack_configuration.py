"""The local stack listens on loopback only and explains what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local import stack


def test_kafka_listens_only_on_the_configured_loopback_address(tmp_path: Path) -> None:
    settings = stack.StackSettings(home=tmp_path, kafka_port=19092, kafka_controller_port=19093)
    properties = stack._kafka_properties(settings).read_text()
    listeners = next(line for line in properties.splitlines() if line.startswith("listeners="))
    assert listeners == "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"


def test_a_missing_tool_is_named_with_how_to_install_it() -> None:
    with pytest.raises(stack.StackError, match="'no-such-jdk-tool' is not installed"):
        stack._require("no-such-jdk-tool", "run the Kafka broker")


def test_a_pid_file_of_someone_elses_process_is_not_trusted(tmp_path: Path) -> None:
    settings = stack.StackSettings(home=tmp_path)
    settings.run.mkdir(parents=True)
    (settings.run / "kafka.pid").write_text("1\n")  # pid 1 is never our broker
    assert stack.running_pid(settings, stack.KAFKA) is None
    assert not (settings.run / "kafka.pid").exists()


def _embeddable_package(source: Path) -> Path:
    """The parts of FerretDB's embeddable package that the authentication patches change."""
    embedded = source / "ferretdb/ferretdb.go"
    embedded.parent.mkdir(parents=True)
    embedded.write_text(
        "import (\n"
        '\t"github.com/FerretDB/FerretDB/internal/util/state"\n'
        ")\n"
        "type Config struct {\n\tSQLiteURL string // For example: `file:data/`.\n}\n"
        "func New() {\n\th := registry.NewHandler(&registry.NewHandlerOpts{\n"
        "\t\tSQLiteURL: config.SQLiteURL,\n\t\tTestOpts: registry.TestOpts{\n"
        "\t\t\tBatchSize:               100,\n\t\t},\n\t})\n}\n"
    )
    return embedded


def _ferretdb_source(source: Path) -> Path:
    """The parts of FerretDB 1.24 that every patch changes, as it ships them; the metadata file."""
    metadata = source / "internal/backends/sqlite/metadata/metadata.go"
    metadata.parent.mkdir(parents=True)
    metadata.write_text("const (\n\tIDColumn = DefaultColumn + \"->'$._id'\"\n)\n")
    _embeddable_package(source)
    (source / "internal/backends/sqlite/collection.go").write_text(
        "func (c *collection) Query() {\n"
        + stack._BARE_ID_PUSHDOWN
        + "}\n\n// InsertAll implements backends.Collection interface.\nfunc (c *collection) InsertAll() {}\n"
    )
    build_info = source / "internal/handler/msg_buildinfo.go"
    build_info.parent.mkdir(parents=True)
    build_info.write_text(
        '\t\t\t"ferretdbFeatures", must.NotFail(types.NewDocument(\n'
        '\t\t\t\t"aggregationStages", aggregationStages,\n'
        "\t\t\t)),\n"
    )
    return metadata


def test_ferretdb_narrows_queries_by_ids_among_other_fields_and_by_unique_fields(tmp_path: Path) -> None:
    _ferretdb_source(tmp_path)

    stack.apply_ferretdb_patches(tmp_path)

    patched = (tmp_path / "internal/backends/sqlite/collection.go").read_text()
    assert "params.Filter.Len() == 1" not in patched
    assert "whereClause, args = pushdownEquality(meta, params.Filter)" in patched
    assert "func pushdownEquality(" in patched
    assert "if !index.Unique || len(index.Key) != 1" in patched
    assert "func pushdownIDIn(" in patched  # `{_id: {$in: [...]}}` too


def test_ferretdb_tells_the_services_it_narrows_filters_by_id(tmp_path: Path) -> None:
    _ferretdb_source(tmp_path)

    stack.apply_ferretdb_patches(tmp_path)

    patched = (tmp_path / "internal/handler/msg_buildinfo.go").read_text()
    assert '"aggregationStages", aggregationStages,\n\t\t\t\t"idAnchoredFilters", true,\n' in patched


def test_ferretdb_looks_documents_up_by_id_with_the_expression_of_its_id_index(tmp_path: Path) -> None:
    metadata = _ferretdb_source(tmp_path)

    stack.apply_ferretdb_patches(tmp_path)

    # The index FerretDB creates for _id is `CREATE UNIQUE INDEX ... (_ferretdb_sjson->"_id")`.
    assert 'IDColumn = DefaultColumn + `->"_id"`' in metadata.read_text()


def test_a_ferretdb_patch_that_no_longer_fits_stops_the_build(tmp_path: Path) -> None:
    metadata = tmp_path / "internal/backends/sqlite/metadata/metadata.go"
    metadata.parent.mkdir(parents=True)
    metadata.write_text("const IDColumn = somethingElse\n")

    with pytest.raises(stack.StackError, match=r"cannot patch .*metadata\.go"):
        stack.apply_ferretdb_patches(tmp_path)


def test_the_embedded_ferretdb_takes_the_authentication_options_of_its_command(tmp_path: Path) -> None:
    _ferretdb_source(tmp_path)
    embedded = tmp_path / "ferretdb/ferretdb.go"

    stack.apply_ferretdb_patches(tmp_path)

    patched = embedded.read_text()
    assert "\tEnableNewAuth bool\n" in patched
    assert "EnableNewAuth:           config.EnableNewAuth," in patched
    assert "SetupPassword: password.WrapPassword(config.SetupPassword)," in patched


def test_ferretdb_syncs_its_log_at_checkpoints_unless_told_to_sync_every_commit(tmp_path: Path) -> None:
    default = stack.FERRETDB.command(stack.StackSettings(home=tmp_path))
    strict = stack.FERRETDB.command(stack.StackSettings(home=tmp_path, ferretdb_synchronous="full"))

    assert default[default.index("-synchronous") + 1] == "normal"
    assert strict[strict.index("-synchronous") + 1] == "full"
    assert default[-1] == str(tmp_path / "data" / "ferretdb")  # the data directory stays last


def test_ferretdb_collects_garbage_less_often_than_go_would_unless_told_otherwise(tmp_path: Path) -> None:
    default = stack.FERRETDB.environment(stack.StackSettings(home=tmp_path))
    chosen = stack.FERRETDB.environment(stack.StackSettings(home=tmp_path, ferretdb_gogc=100))

    assert default["GOGC"] == "400"
    assert chosen["GOGC"] == "100"
    with pytest.raises(ValueError, match="ferretdb_gogc"):
        stack.StackSettings(home=tmp_path, ferretdb_gogc=0)
