-- Removes a metadata entry (a copy whose source lacks it).
DELETE FROM machizu_meta WHERE key = $1
