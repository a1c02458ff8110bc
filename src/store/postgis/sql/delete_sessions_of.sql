DELETE FROM machizu_sessions WHERE user_name = $1
