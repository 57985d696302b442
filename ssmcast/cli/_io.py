"""Reading data files for the command line: CSV (plain, gzip, xz), Parquet and NetCDF.

Errors are :class:`click.ClickException` (exit code 1) with a one- or two-line message: the
command line prints them without a traceback.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import click
import pandas as pd

TIME_COLUMN_NAMES = ("time", "ds", "date", "datetime", "timestamp", "time_hour", "date_time")
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.xz", ".csv.bz2", ".csv.zip", ".txt", ".tsv")


class DataError(click.ClickException):
    """An error in the user's data or run: exit code 1, no traceback."""

    exit_code = 1


def closest(name: str, options) -> str:
    """A hint naming the closest of ``options`` to ``name``, or an empty string."""
    match = difflib.get_close_matches(name, [str(o) for o in options], n=1, cutoff=0.5)
    if not match:
        lowered = {str(o).lower(): str(o) for o in options}
        if name.lower() in lowered:
            match = [lowered[name.lower()]]
    return f" Did you mean '{match[0]}'?" if match else ""


def _read_frame(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    try:
        if name.endswith(".parquet") or name.endswith(".pq"):
            return pd.read_parquet(path)
        if name.endswith(".nc") or name.endswith(".nc4") or name.endswith(".netcdf"):
            import xarray as xr

            with xr.open_dataset(path) as ds:
                return ds.load().to_dataframe().reset_index()
        if name.endswith(_CSV_SUFFIXES):
            if name.endswith((".csv", ".txt", ".tsv")) and b"\x00" in path.read_bytes()[:8192]:
                raise DataError(
                    f"{path.name} is not a text CSV file (it holds binary data). Pass a CSV, "
                    "Parquet or NetCDF file, with the suffix that names its type."
                )
            sep = "\t" if name.endswith(".tsv") else ","
            frame = pd.read_csv(path, sep=sep)
            if frame.shape[1] == 1:  # another separator? the header tells
                header = str(frame.columns[0])
                other = next((c for c in (";", "\t", "|") if c in header and c != sep), None)
                if other is not None:
                    frame = pd.read_csv(path, sep=other)
            return frame
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path.name} is not a text CSV file (byte {err.start} is not UTF-8 text). "
            "Pass a CSV, Parquet or NetCDF file, with the suffix that names its type."
        ) from err
    except pd.errors.EmptyDataError as err:
        raise DataError(f"{path.name} is empty: it has no header and no rows.") from err
    except DataError:
        raise
    except ImportError as err:
        raise DataError(
            f"Reading {path.name} needs an optional package: {err}. Install it (for example "
            "'pip install pyarrow' for Parquet, 'pip install netCDF4' for NetCDF)."
        ) from err
    except Exception as err:
        raise DataError(f"Could not read {path}: {type(err).__name__}: {err}") from err
    raise DataError(
        f"Unknown file type for {path.name}: expected .csv (also .csv.gz, .csv.xz), .parquet "
        "or .nc (NetCDF)."
    )


def find_time_column(frame: pd.DataFrame, time_col: str | None) -> str:
    """The time column: ``time_col`` when given, else a usual name, else the first parseable."""
    if time_col is not None:
        if time_col not in frame.columns:
            hint = closest(time_col, frame.columns)
            raise DataError(
                f"--time-col '{time_col}' is not a column of the data.{hint}"
                f" Columns: {', '.join(map(str, frame.columns))}."
            )
        return time_col
    lowered = {str(c).lower(): c for c in frame.columns}
    for candidate in TIME_COLUMN_NAMES:
        if candidate in lowered:
            return lowered[candidate]
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            try:
                parsed = pd.to_datetime(
                    frame[column].head(20), errors="coerce", format="mixed", utc=True
                )
            except (ValueError, TypeError, OverflowError):
                continue
            if parsed.notna().all():
                return column
    raise DataError(
        "Could not find the time column; name it with --time-col. "
        f"Columns: {', '.join(map(str, frame.columns))}."
    )


def read_series(
    path: str | Path,
    *,
    targets: list[str],
    time_col: str | None = None,
    id_col: str | None = None,
    dayfirst: bool | None = None,
    date_format: str | None = None,
) -> pd.DataFrame:
    """Read a data file into a wide frame of the target columns on a DatetimeIndex.

    With ``id_col`` (a long file with one row per series and time), each series becomes its
    own column: ``{id}`` for one target, ``{id}_{target}`` for several. Times are read by
    :func:`parse_times`.

    Raises:
        DataError: For a missing or unreadable file, an unknown column, unparsable times or
            non-numeric targets.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"No such file: {path}")
    frame = _read_frame(path)
    if len(frame) == 0:
        header = ", ".join(map(str, frame.columns))
        raise DataError(f"{path.name} has no rows of data (only a header: {header}).")
    time_col = find_time_column(frame, time_col)
    if id_col is not None and id_col not in frame.columns:
        raise DataError(
            f"--id-col '{id_col}' is not a column of the data.{closest(id_col, frame.columns)}"
        )
    times = parse_times(frame[time_col], str(time_col), dayfirst=dayfirst, date_format=date_format)
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    frame = frame.assign(**{str(time_col): times})
    return select_targets(frame.set_index(time_col), targets, id_col=id_col, source=path.name)


# day, month and year separated by '/', '.' or '-', the year last: 01/02/2024, 1.2.24
_DAY_MONTH = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}\b")


def parse_times(
    values: pd.Series, column: str, *, dayfirst: bool | None = None, date_format: str | None = None
) -> pd.Series:
    """Text (or datetimes) to timestamps, refusing to guess the order of day and month.

    With ``date_format`` (strftime codes) every value must match it. Otherwise dates written
    with the year last (``01/02/2024``) are read day-first or month-first as the values
    decide: a first field above 12 means day-first, a second field above 12 month-first.
    When every field is 12 or less the order cannot be told from the data, and ``dayfirst``
    must say it (``--dayfirst`` or ``--monthfirst``).

    Raises:
        DataError: For a value that is not a time, or dates whose order of day and month
            is ambiguous or contradictory.

    Examples:
        >>> parse_times(pd.Series(["13/01/2024", "01/02/2024"]), "time").dt.month.tolist()
        [1, 2]
        >>> parse_times(pd.Series(["01/02/2024"]), "time", dayfirst=True).dt.month.tolist()
        [2]
    """
    if date_format is not None:
        try:
            times = pd.to_datetime(values, errors="coerce", format=date_format)
        except (ValueError, TypeError, OverflowError) as err:
            raise DataError(
                f"Column '{column}' cannot be read with the --date-format {date_format!r} ({err})."
            ) from None
        how = f"the --date-format {date_format!r}"
    elif pd.api.types.is_datetime64_any_dtype(values):
        return values
    else:
        text = values.astype(str)
        fields = text.str.extract(_DAY_MONTH).dropna().astype(int)
        if len(fields):
            day_first = bool((fields[0] > 12).any())
            month_first = bool((fields[1] > 12).any())
            if day_first and month_first:
                raise DataError(
                    f"Column '{column}' has dates read day-first in some rows and month-first "
                    "in others; give the layout with --date-format (e.g. '%d/%m/%Y')."
                )
            decided = True if day_first else False if month_first else None
            if decided is not None and dayfirst is not None and decided != dayfirst:
                order = "day-first" if decided else "month-first"
                raise DataError(
                    f"Column '{column}' has {order} dates (e.g. {text[fields.index[0]]!r}), "
                    f"but --{'dayfirst' if dayfirst else 'monthfirst'} was given."
                )
            if decided is None and dayfirst is None:
                example = text[fields.index[0]]
                raise DataError(
                    f"Column '{column}' has dates such as {example!r} whose day and month "
                    "cannot be told apart (every field is 12 or less). Say which comes first "
                    "with --dayfirst or --monthfirst, or give --date-format (e.g. '%d/%m/%Y')."
                )
            dayfirst = decided if decided is not None else dayfirst
        # offsets that change (a daylight-saving switch) are read as the instants they name
        with_offset = text.str.contains(r"(?:[+-]\d{2}:?\d{2}|Z)\s*$", regex=True)
        present = values.notna() & text.str.strip().ne("")
        if with_offset.any() and not with_offset[present].all():
            aware, naive = text[with_offset].iloc[0], text[present & ~with_offset].iloc[0]
            raise DataError(
                f"Column '{column}' mixes times with a UTC offset ({aware!r}) and without "
                f"({naive!r}); write every time the same way."
            )
        try:
            times = pd.to_datetime(
                text,
                errors="coerce",
                format="mixed",
                dayfirst=bool(dayfirst),
                utc=bool(with_offset.any()),
            )
        except (ValueError, TypeError, OverflowError) as err:
            # e.g. pandas 3.0 refuses times in several zones read without utc=True
            raise DataError(
                f"Column '{column}' cannot be read as times ({err}). Write every time the "
                "same way (all with a UTC offset, or none), or give --date-format."
            ) from None
        how = "a time"
    if times.isna().any():
        bad = values[times.isna()].iloc[0]
        raise DataError(f"Column '{column}' has a value that is not {how}: {bad!r}.")
    return times


def select_targets(
    frame: pd.DataFrame, targets: list[str], *, id_col: str | None = None, source: str = "data"
) -> pd.DataFrame:
    """Pick the numeric target columns (pivoting a long frame by ``id_col``)."""
    available = [c for c in frame.columns if c != id_col]
    for target in targets:
        if target not in frame.columns:
            raise DataError(
                f"--target '{target}' is not a column of {source}.{closest(target, available)}"
                f" Available: {', '.join(map(str, available))}."
            )
        if not pd.api.types.is_numeric_dtype(frame[target]):
            sample = frame[target].dropna().astype(str).head(3).tolist()
            raise DataError(
                f"--target '{target}' is not numeric (values such as {', '.join(sample)}); "
                "choose a numeric column."
            )
    if id_col is None:
        return frame[targets].astype(float).rename_axis("time")
    keys = pd.DataFrame({"time": frame.index, "id": frame[id_col].to_numpy()})
    duplicated = keys.duplicated()
    if duplicated.any():
        first = keys[duplicated].iloc[0]
        raise DataError(
            f"{source} has several rows for series '{first['id']}' at {first['time']}; "
            "each series needs one row per time."
        )
    if not keys.groupby("id", sort=False)["time"].is_monotonic_increasing.all():
        raise DataError(f"{source} is not sorted by time within each '{id_col}'; sort it first.")
    wide = frame.pivot(columns=id_col, values=targets)
    if len(targets) == 1:
        wide.columns = [str(i) for i in wide.columns.get_level_values(1)]
    else:
        wide.columns = [f"{i}_{t}" for t, i in wide.columns]
    return wide.astype(float).rename_axis("time")
