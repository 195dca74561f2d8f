-- Interactions of the last {{params.days}} days: one row per user and item.
-- {{params.days}} reaches Athena as a query parameter, never pasted into the SQL.
SELECT user_id, item_id, count(*) AS views, max(event_time) AS last_seen
FROM events
WHERE event_date >= date_add('day', -CAST({{params.days}} AS integer), current_date)
GROUP BY user_id, item_id
