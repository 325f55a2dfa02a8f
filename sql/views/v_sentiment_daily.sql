-- v_sentiment_daily
-- grain: one row per day (dt)
-- How customers felt at the start and the end of calls (-5..+5), and how calls ended and moved, counted
-- from v_call_summary's customer_ended / customer_moved / customer_ended_happier (the one definition:
-- docs/metrics.md). calls_ended_happier: ended at least neutral and rose; calls_with_sentiment: calls
-- with an end score (the denominator of every calls_ended_* count).
with

calls_src as (
    select * from v_call_summary
    where transcriber is not null
),

final as (
    select
        dt,
        count(*) as calls,
        sum(case when customer_ended is not null then 1 else 0 end) as calls_with_sentiment,
        round(avg(customer_sentiment), 2) as avg_customer_sentiment,
        round(avg(agent_sentiment), 2) as avg_agent_sentiment,
        round(avg(customer_sentiment_start), 2) as avg_customer_sentiment_start,
        round(avg(customer_sentiment_end), 2) as avg_customer_sentiment_end,
        round(avg(customer_sentiment_shift), 2) as avg_customer_sentiment_shift,
        sum(case when customer_ended_happier then 1 else 0 end) as calls_ended_happier,
        sum(case when customer_ended = 'NEGATIVE' then 1 else 0 end) as calls_ended_negative,
        sum(case when customer_ended = 'NEUTRAL' then 1 else 0 end) as calls_ended_neutral,
        sum(case when customer_ended = 'POSITIVE' then 1 else 0 end) as calls_ended_positive,
        sum(case when customer_moved = 'ROSE' then 1 else 0 end) as calls_customer_rose,
        sum(case when customer_moved = 'FELL' then 1 else 0 end) as calls_customer_fell,
        sum(case when customer_moved = 'FLAT' then 1 else 0 end) as calls_customer_flat,
        round(avg(customer_wpm), 1) as avg_customer_wpm,
        round(avg(agent_wpm), 1) as avg_agent_wpm
    from calls_src
    group by dt
)

select * from final
