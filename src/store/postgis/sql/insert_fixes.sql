-- $1: a JSON array of fixes (src/store/fleet.rs `FixRow`). Duplicates (same vehicle and device
-- time as a stored fix) are skipped; the rows written come back.
INSERT INTO machizu_fixes (vehicle, device_time, received_at, lon, lat, speed_mps, heading_deg, altitude_m,
                           accuracy_m, hdop, battery_pct, blade_down, spreader_on, extra, flags, road)
SELECT vehicle, "time", received_at, lon, lat, speed_mps, heading_deg, altitude_m,
       accuracy_m, hdop, battery_pct, blade_down, spreader_on, extra, flags, road
FROM jsonb_to_recordset($1::jsonb) AS r(vehicle text, "time" timestamptz, received_at timestamptz,
     lon double precision, lat double precision, speed_mps double precision, heading_deg double precision,
     altitude_m double precision, accuracy_m double precision, hdop double precision,
     battery_pct double precision, blade_down boolean, spreader_on boolean, extra jsonb, flags text, road bigint)
ON CONFLICT (vehicle, device_time) DO NOTHING
RETURNING id, vehicle, to_char(device_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
