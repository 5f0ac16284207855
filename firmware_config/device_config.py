"""The device configuration file: one TOML file per door, read, checked and written.

The schema is ``DeviceConfig`` (device_model.py, with its sections in
device_sections.py); this module reads a file into it, listing every problem with its
fix, and writes one back as TOML. Relative paths resolve against the file's own folder.

    >>> cfg = load_device_config("firmware_config/examples/simulated.toml")  # doctest: +SKIP
    >>> cfg.lock.relay_pin, cfg.camera.kind                                  # doctest: +SKIP
    (17, 'simulated')
    >>> check_device_config("door.toml")  # [] when valid                    # doctest: +SKIP
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from .device_model import DeviceConfig
from .errors import ConfigProblem, DeviceConfigError

__all__ = ["DeviceConfig", "check_device_config", "dump_device_config", "load_device_config"]


def _file_problems(cfg: DeviceConfig) -> list[ConfigProblem]:
    files = {
        "broker.ca": (cfg.broker.ca, "the CA certificate"),
        "broker.cert": (cfg.broker.cert, "the device certificate"),
        "broker.key": (cfg.broker.key, "the device private key"),
        "keys.signing_key": (cfg.keys.signing_key, "the device signing key"),
        "keys.hub_public_key": (cfg.keys.hub_public_key, "the hub public key"),
    }
    return [
        ConfigProblem(
            where,
            f"{what} file {path} does not exist: copy it from the device's provisioning bundle "
            "or fix the path",
        )
        for where, (path, what) in files.items()
        if not path.is_file()
    ]


def _validate(path: Path, check_files: bool) -> tuple[DeviceConfig | None, list[ConfigProblem]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, [ConfigProblem(str(path), "file not found: check the path")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [ConfigProblem(str(path), f"cannot read the file ({exc}): check permissions")]
    except tomllib.TOMLDecodeError as exc:
        return None, [ConfigProblem("(toml)", f"not valid TOML: {exc}; fix the syntax there")]
    try:
        cfg = DeviceConfig.model_validate(data, context={"base_dir": path.resolve().parent})
    except ValidationError as exc:
        from .device_problems import problems_from_error  # error path only, like difflib

        return None, [p for err in exc.errors() for p in problems_from_error(err)]
    return cfg, _file_problems(cfg) if check_files else []


def check_device_config(path: str | Path, check_files: bool = True) -> list[ConfigProblem]:
    """Every problem in the file at ``path`` (empty when it is valid)."""
    return _validate(Path(path), check_files)[1]


def load_device_config(path: str | Path, *, check_files: bool = False) -> DeviceConfig:
    """Load and validate a device file; raise ``DeviceConfigError`` listing every problem.

    ``check_files`` also requires the certificate and key files to exist (the agent
    should pass True; tools that only read the settings need not).
    """
    cfg, problems = _validate(Path(path), check_files)
    if problems or cfg is None:
        raise DeviceConfigError(str(path), problems)
    return cfg


def dump_device_config(cfg: DeviceConfig, relative_to: str | Path | None = None) -> str:
    """TOML text for ``cfg``; paths under ``relative_to`` are written relative to it."""
    data = cfg.model_dump(mode="json", exclude_none=True)
    if relative_to is not None:
        base = Path(relative_to).resolve()
        for section, key in (
            ("broker", "ca"),
            ("broker", "cert"),
            ("broker", "key"),
            ("keys", "signing_key"),
            ("keys", "hub_public_key"),
            ("outbox", "path"),
        ):
            value = Path(data[section][key])
            if value.is_absolute() and value.is_relative_to(base):
                data[section][key] = value.relative_to(base).as_posix()
    import tomli_w  # writing device files is provisioning's job, not the agent's

    return tomli_w.dumps(data)
