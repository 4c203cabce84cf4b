-- Per server and tool: what a reviewer needs to see which servers are slow, failing or flooding the context.
SELECT server,
       COALESCE(target, method)                                              AS tool,
       COUNT(*)                                                              AS calls,
       SUM(status = 'error' OR status = 'failed')                            AS errors,
       SUM(status = 'timeout')                                               AS timeouts,
       SUM(status = 'denied')                                                AS denials,
       AVG(bytes_out)                                                        AS mean_bytes_out
  FROM events
 WHERE event = 'exchange' AND (:since IS NULL OR ts >= :since) AND (:until IS NULL OR ts < :until)
 GROUP BY server, COALESCE(target, method)
 ORDER BY calls DESC;
