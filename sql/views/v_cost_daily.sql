-- v_cost_daily
-- grain: one row per day (dt) and transcriber
-- What the day's analysis cost on AWS: billed Transcribe minutes, Comprehend units and the
-- estimate from the prices in settings (zero for the local engines).
with

calls_src as (
    select * from calls
),

daily as (
    select
        dt,
        coalesce(transcriber, 'none') as transcriber,
        count(*) as calls,
        round(sum(duration_s) / 60.0, 2) as audio_minutes,
        round(sum(coalesce(transcribe_minutes, 0)), 2) as transcribe_minutes,
        cast(sum(coalesce(comprehend_units, 0)) as bigint) as comprehend_units,
        round(sum(coalesce(est_cost_usd, 0)), 4) as est_cost_usd
    from calls_src
    group by dt, coalesce(transcriber, 'none')
),

final as (
    select
        *,
        round(est_cost_usd / nullif(calls, 0), 5) as est_cost_per_call_usd
    from daily
)

select * from final
