-- Each vehicle's newest plausible fix taken since ?1.
SELECT id, vehicle, device_time, received_at, lon, lat, speed_mps, heading_deg, altitude_m, accuracy_m,
       hdop, battery_pct, blade_down, spreader_on, extra, flags, road
FROM (SELECT *, row_number() OVER (PARTITION BY vehicle ORDER BY device_time DESC) AS n
      FROM machizu_fixes WHERE flags IS NULL AND device_time >= ?1)
WHERE n = 1
