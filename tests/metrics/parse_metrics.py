"""Parses machizu's /metrics text (stdin) with the Prometheus project's own Python client and
prints what it read as JSON: {family: {"type": ..., "samples": [[name, labels, value], ...]}}.

Both parsers must take it: the OpenMetrics one (strict: # EOF, _total, units) and the classic
Prometheus text-format one that most scrapers and tools use.
"""

import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as classic

text = sys.stdin.read()
families = {}
for family in openmetrics(text):
    families[family.name] = {
        "type": family.type,
        "samples": [[s.name, s.labels, s.value] for s in family.samples],
    }
classic_names = {f.name for f in classic(text.replace("# EOF\n", ""))}
missing = [name for name in families if name not in classic_names and f"{name}_total" not in classic_names]
if missing:
    sys.exit(f"the classic parser did not read {missing}")
json.dump(families, sys.stdout)
