-- Realised WAPE of the published forecasts by actuals day and horizon (demand_forecast.forecast_accuracy,
-- written daily by forecast_monitoring), for the model-quality view's chart.
SELECT dt, horizon_days, wape
FROM demand_forecast.forecast_accuracy
WHERE scope = 'horizon'
  AND dt >= :first_day
  AND dt <= :last_day
ORDER BY dt, horizon_days
