-- Deliveries per notice and state.
SELECT m.notice, d.state, count(*) FROM machizu_push_deliveries d JOIN machizu_notice_messages m ON m.id = d.message
GROUP BY m.notice, d.state ORDER BY m.notice
