-- Thins fixes taken before $1 to the first of each vehicle and minute.
DELETE FROM machizu_fixes
WHERE device_time < $1::timestamptz
  AND id NOT IN (SELECT min(id) FROM machizu_fixes WHERE device_time < $1::timestamptz
                 GROUP BY vehicle, date_trunc('minute', device_time))
