-- One row per cut-off the predictions are computed at: the `cutoff` var (by default the world clock) and, for
-- backtests, every 30 days before it (`prediction_backtest_cutoffs` of them). A model trains on features at
-- an older cut-off and the labels of the window after it, and is evaluated at a later one (cdp/predictions).
{% set cutoff = var("cutoff", var("as_of")) %}
{% set backtest_cutoffs = var("prediction_backtest_cutoffs", 14) %}

select
    cast(steps.step as integer) as cutoff_index,
    cast('{{ cutoff }}' as timestamp with time zone) - to_days(cast(30 * steps.step as integer)) as cutoff_at
from range(0, {{ backtest_cutoffs }} + 1) as steps(step)
