-- Wines with enough alcohol to matter; {{params.min_alcohol}} is a query parameter.
SELECT *
FROM wine
WHERE alcohol >= CAST({{params.min_alcohol}} AS double)
ORDER BY sample_id
