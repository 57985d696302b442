"""The ``ssmcast datasets`` command group: list the shipped datasets, describe one."""

from __future__ import annotations

import textwrap

import click

_WIDTH = 100


def _wrapped(label: str, text: str) -> str:
    return textwrap.fill(
        text, width=_WIDTH, initial_indent=f"{label:<10} ", subsequent_indent=" " * 11
    )


def _table(rows: list[dict[str, object]]) -> str:
    """Format rows as a plain-text table: text left-aligned, numbers right-aligned."""
    columns = [*rows[0]]
    cells = [
        [f"{row[c]:,}" if isinstance(row[c], int) else str(row[c]) for c in columns] for row in rows
    ]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [isinstance(rows[0][c], int) for c in columns]

    def line(values: list[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(columns), *(line(r) for r in cells)])


@click.group("datasets", invoke_without_command=True)
@click.pass_context
def datasets_group(ctx: click.Context) -> None:
    """List the real datasets shipped with ssmcast, or describe one with 'show NAME'."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_command)


@datasets_group.command("list")
def list_command() -> None:
    """List the shipped datasets as a short table."""
    from ssmcast import datasets

    rows = [
        {
            "name": row.name,
            "frequency": row.frequency,
            "span": f"{row.start:%Y-%m-%d} .. {row.end:%Y-%m-%d}",
            "variables": len(row.variables.split(", ")),
            "description": row.description,
        }
        for row in datasets.list().itertuples()
    ]
    click.echo(_table(rows))
    click.echo("\nDescribe one with: ssmcast datasets show NAME")


@datasets_group.command("show")
@click.argument("name")
def show_command(name: str) -> None:
    """Describe the dataset NAME: variables, units, span, frequency, missing values, source."""
    from ssmcast import datasets

    try:
        info = datasets.info(name)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    frame = datasets.load(name)
    missing = frame.isna().sum()
    rows = []
    for var in info.variables:
        row = {"variable": var.name, "units": var.units}
        if info.stations:
            for station in info.stations:
                row[f"missing {station}"] = int(missing[f"{station}_{var.name}"])
        else:
            row["missing"] = int(missing[var.name])
        row["description"] = var.description
        rows.append(row)

    click.echo(f"{info.name}: {info.description}")
    click.echo(_wrapped("frequency", f"{info.frequency} (regular; gaps are NaN rows)"))
    span = f"{frame.index[0]} .. {frame.index[-1]} ({len(frame):,} time steps)"
    click.echo(_wrapped("span", span))
    click.echo(_wrapped("time zone", info.timezone))
    if info.stations:
        click.echo(_wrapped("stations", ", ".join(info.stations)))
    click.echo("")
    click.echo(_table(rows))
    click.echo("")
    for var in info.categorical:
        text = (
            f"{var.name} ({var.description}; levels {', '.join(var.categories)}): dropped by "
            f"default; load({name!r}, categorical='onehot') encodes it."
        )
        click.echo(_wrapped("category", text))
    click.echo(_wrapped("source", info.source))
    click.echo(_wrapped("licence", info.licence))
    click.echo(_wrapped("credit", info.citation))
    if info.notes:
        click.echo(_wrapped("notes", info.notes))
