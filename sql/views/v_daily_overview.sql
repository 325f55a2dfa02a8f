-- v_daily_overview
-- grain: one row per day (dt)
-- Calls, audio hours, talk/silence ratios, interruptions and quarantined recordings per day.
with

calls_src as (
    select * from calls
),

failures_src as (
    select * from failures
),

daily_calls as (
    select
        dt,
        count(*) as calls,
        round(sum(duration_s) / 3600.0, 3) as audio_hours,
        round(avg(duration_s), 1) as avg_duration_s,
        round(sum(agent_talk_s) / nullif(sum(duration_s), 0), 4) as agent_talk_ratio,
        round(sum(customer_talk_s) / nullif(sum(duration_s), 0), 4) as customer_talk_ratio,
        round(sum(non_talk_s) / nullif(sum(duration_s), 0), 4) as non_talk_ratio,
        cast(sum(agent_interruptions) as bigint) as agent_interruptions,
        cast(sum(customer_interruptions) as bigint) as customer_interruptions,
        round(avg(customer_sentiment), 2) as avg_customer_sentiment
    from calls_src
    group by dt
),

daily_failures as (
    select
        dt,
        count(*) as quarantined
    from failures_src
    group by dt
),

final as (
    select
        coalesce(c.dt, f.dt) as dt,
        coalesce(c.calls, 0) as calls,
        coalesce(f.quarantined, 0) as quarantined,
        coalesce(c.audio_hours, 0) as audio_hours,
        c.avg_duration_s,
        c.agent_talk_ratio,
        c.customer_talk_ratio,
        c.non_talk_ratio,
        coalesce(c.agent_interruptions, 0) as agent_interruptions,
        coalesce(c.customer_interruptions, 0) as customer_interruptions,
        c.avg_customer_sentiment
    from daily_calls as c
    full outer join daily_failures as f
        on c.dt = f.dt
)

select * from final
