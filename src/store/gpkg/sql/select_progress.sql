-- How far matching got, per vehicle.
SELECT vehicle, device_time FROM machizu_match_progress
