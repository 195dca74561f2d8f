-- café sales
SELECT 1
