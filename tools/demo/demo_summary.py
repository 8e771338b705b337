# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The demo's summary: seeded statistics, one row per initialisation and
the markdown table."""
import json
import statistics
from dataclasses import asdict
from typing import Dict, List, Sequence

from demo_stages import COLUMNS, DOWNSTREAM, INITS


def seeded(values: Sequence[float]) -> dict:
    """Mean, sample s.d. (0 for one value) and the values of a seeded
    measurement."""
    values = [float(v) for v in values]
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return dict(
        mean=round(statistics.fmean(values), 2), sd=round(sd, 2),
        values=values)


def summary_rows(results: Dict[str, dict]) -> List[dict]:
    """One row per initialisation with every summary column; a measurement
    with several seeds becomes :func:`seeded` statistics.

    Args:
        results (dict): ``{task: {init: record}}`` as written by
            ``run_stage.py``; ``results['probes'][init]`` holds the probe
            scores.

    Raises:
        KeyError: If a run's or probe's result is missing (naming it).
    """
    rows = []
    for init, label in INITS.items():
        row = dict(init=init, name=label)
        for task in DOWNSTREAM:
            run = results.get(task.name, {}).get(init)
            if run is None:
                raise KeyError(f'no result for {task.name} from {init}')
            for key, _, _ in task.metrics:
                row[key] = seeded(run[key])
        probes = results.get('probes', {}).get(init)
        if probes is None:
            raise KeyError(f'no probe result from {init}')
        for key in COLUMNS:
            if key in row or key in ('knn_top1', 'pretrain_time_s'):
                continue
            if key not in probes:
                raise KeyError(f'no probe result {key} from {init}')
            value = probes[key]
            row[key] = seeded(value) if isinstance(value, list) else value
        pre = results.get('pretrain', {}).get(init)
        row['knn_top1'] = pre.get('knn_top1') if pre else None
        row['pretrain_time_s'] = pre['train_time_s'] if pre else None
        rows.append(row)
    return rows


def cell(value) -> str:
    """A summary value as the tables print it."""
    if value is None:
        return '–'
    if isinstance(value, dict):
        if len(value['values']) == 1:
            return f'{value["mean"]:.1f}'
        return f'{value["mean"]:.1f} ± {value["sd"]:.1f}'
    return f'{value:.1f}' if isinstance(value, float) else str(value)


def markdown_table(rows: List[dict]) -> str:
    """The summary as a GitHub markdown table: one line per measurement,
    one column per initialisation."""
    lines = [
        '| measurement | ' + ' | '.join(r['name'] for r in rows) + ' |',
        '| --- |' + ' ---: |' * len(rows),
    ]
    for key, header in COLUMNS.items():
        lines.append(f'| {header} | ' +
                     ' | '.join(cell(r[key]) for r in rows) + ' |')
    return '\n'.join(lines)


def spec_dict(spec) -> dict:
    """A ``DemoDataSpec`` as it reads back from ``meta.json``."""
    return json.loads(json.dumps(asdict(spec)))
