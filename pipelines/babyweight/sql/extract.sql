-- Natality rows with the fields the model uses; {{params.limit}} is an Athena query parameter.
SELECT weight_pounds, is_male, mother_age, plurality, gestation_weeks, year
FROM natality
WHERE weight_pounds > 0 AND mother_age > 0 AND plurality > 0 AND gestation_weeks > 0
LIMIT {{params.limit}}
