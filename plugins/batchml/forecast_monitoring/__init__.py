"""forecast_monitoring: realised accuracy of the published forecasts, input drift, and the alert policy."""
