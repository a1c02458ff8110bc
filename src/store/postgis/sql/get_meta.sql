SELECT value FROM machizu_meta WHERE key = $1
