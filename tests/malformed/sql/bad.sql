-- rows for the run
SELECT *
FROM t WHERE d = {{run.dat}}
LIMIT {{params.limit}}
