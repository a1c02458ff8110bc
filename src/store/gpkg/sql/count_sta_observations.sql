-- How many observations there are (followed by sta_observations_where.sql).
SELECT count(*) FROM machizu_sta_observations
