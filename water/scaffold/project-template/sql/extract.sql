-- Views per user and item, for pairs seen at least {{params.min_views}} times.
-- {{params.min_views}} reaches Athena as a query parameter, never pasted into the SQL.
SELECT user_id, item_id, count(*) AS views, max(event_time) AS last_seen
FROM events
GROUP BY user_id, item_id
HAVING count(*) >= CAST({{params.min_views}} AS integer)
ORDER BY user_id, item_id
