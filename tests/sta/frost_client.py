"""Drives machizu's SensorThings API with FROST-Server's own Python client, unchanged.

Usage: frost_client.py <service url> <staff API key>

Creates three synthetic river gauges (Thing + Location + Datastream, Sensor and
ObservedProperty), observations one by one and through dataArray, then reads them back with
$filter, $expand and $orderby, and pages a 250-observation datastream through @iot.nextLink.
Every check is an assert; the last line printed is a JSON summary the Rust test checks again.
"""

import json
import sys

import frost_sta_client as fsc
from geojson import Point

url, key = sys.argv[1], sys.argv[2]
# FROST clients send HTTP Basic; machizu takes the API key as the password.
service = fsc.SensorThingsService(url, auth_handler=fsc.AuthHandler(username="machizu", password=key))

GAUGES = [("丹生川", 140.401, 38.601), ("朧気川", 140.421, 38.611), ("銀山川", 140.451, 38.571)]
sensor = fsc.Sensor(name="水位計 (synthetic)", description="pressure gauge", encoding_type="text/plain", metadata="none")
level = fsc.ObservedProperty(name="水位", definition="https://www.river.go.jp/", description="river water level")
service.create(sensor)
service.create(level)
assert isinstance(sensor.id, int) and isinstance(level.id, int)

datastreams = {}
for river, lon, lat in GAUGES:
    loc = fsc.Location(name=f"{river} 観測所", description="synthetic test gauge",
                       encoding_type="application/geo+json", location=Point((lon, lat)))
    thing = fsc.Thing(name=f"{river} 水位観測所", description="synthetic", properties={"river": river},
                      locations=[loc])
    service.create(thing)
    ds = fsc.Datastream(name=f"{river} 水位", description="water level", properties={"river": river},
                        observation_type="http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                        unit_of_measurement=fsc.UnitOfMeasurement(name="metre", symbol="m",
                                                                  definition="http://qudt.org/vocab/unit/M"),
                        thing=thing, sensor=sensor, observed_property=level)
    service.create(ds)
    datastreams[river] = ds

# One observation at a time, with the device's time.
niu = datastreams["丹生川"]
for i, value in enumerate([1.20, 1.35, 1.80, 2.40]):
    service.create(fsc.Observation(result=value, phenomenon_time=f"2026-12-01T0{i}:00:00+09:00", datastream=niu))

# A batch through the dataArray extension: 250 observations, a minute apart.
dav = fsc.model.ext.data_array_value.DataArrayValue()
dav.datastream = datastreams["朧気川"]
dav.components = {fsc.model.ext.data_array_value.DataArrayValue.Property.PHENOMENON_TIME,
                  fsc.model.ext.data_array_value.DataArrayValue.Property.RESULT}
for m in range(250):
    dav.add_observation(fsc.Observation(phenomenon_time=f"2026-12-01T{m // 60:02d}:{m % 60:02d}:00Z",
                                        result=round(0.5 + m * 0.01, 2), datastream=datastreams["朧気川"]))
doc = fsc.model.ext.data_array_document.DataArrayDocument()
doc.add_data_array_value(dav)
created = service.observations().create(doc)
assert len(created) == 250, len(created)

# Read back: $filter on a property and a path, $expand, $orderby.
things = service.things().query().filter("properties/river eq '銀山川'").list()
names = [t.name for t in things]
assert names == ["銀山川 水位観測所"], names

found = service.datastreams().query().filter("Thing/properties/river eq '丹生川'").expand("Thing,Sensor,ObservedProperty").list()
found = list(found)
assert len(found) == 1 and found[0].thing.name == "丹生川 水位観測所" and found[0].sensor.name == sensor.name, found

highs = service.observations().query().filter(f"Datastream/id eq {niu.id} and result ge 1.8").orderby("result", "DESC").list()
highs = [o.result for o in highs]
assert highs == [2.4, 1.8], highs

near = service.locations().query().filter("geo.distance(location, geography'POINT(140.401 38.601)') lt 500").list()
assert [l.name for l in near] == ["丹生川 観測所"], [l.name for l in near]

# The first page only (iterating would follow @iot.nextLink to the end).
latest = niu.get_observations().query().orderby("phenomenonTime", "DESC").top(1).list().entities
assert len(latest) == 1 and latest[0].result == 2.4, latest

# Paging: 250 observations, 100 a page, followed through @iot.nextLink by the client.
pages = datastreams["朧気川"].get_observations().query().orderby("phenomenonTime", "ASC").list()
values = [o.result for o in pages]
assert len(values) == 250, len(values)
assert values == sorted(values) and values[0] == 0.5 and values[-1] == 2.99, (values[0], values[-1])

expanded = service.things().query().filter("name eq '丹生川 水位観測所'").expand(
    "Datastreams($expand=Observations($orderby=phenomenonTime desc;$top=2)),Locations").list()
expanded = list(expanded)
obs = expanded[0].datastreams.entities[0].observations.entities
assert [o.result for o in obs] == [2.4, 1.8], [o.result for o in obs]
assert expanded[0].locations.entities[0].name == "丹生川 観測所"

# Update and delete.
thing = service.things().find(expanded[0].id)
thing.description = "updated"
service.update(thing)
assert service.things().find(thing.id).description == "updated"
service.delete(datastreams["銀山川"])
try:
    service.datastreams().find(datastreams["銀山川"].id)
    raise AssertionError("a deleted datastream is gone")
except Exception as e:  # the client raises on the 404
    assert "404" in str(e) or "Not Found" in str(e), e

print(json.dumps({"things": len(GAUGES), "datastreams": [d.id for d in datastreams.values()],
                  "observations": 4 + 250, "deleted": datastreams["銀山川"].id}))
