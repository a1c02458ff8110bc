-- The first and last phenomenon time of datastream $1 (both read from the index).
SELECT to_char((SELECT min(phenomenon_time) FROM machizu_sta_observations WHERE datastream = $1) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
       to_char((SELECT max(phenomenon_time) FROM machizu_sta_observations WHERE datastream = $1) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
