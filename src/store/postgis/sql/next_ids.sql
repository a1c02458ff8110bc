-- The next $2 ids of table $1 (quoted), for rows about to be copied in.
SELECT nextval(pg_get_serial_sequence($1, 'fid')) FROM generate_series(1, $2::bigint)
