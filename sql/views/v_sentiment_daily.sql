-- v_sentiment_daily
-- grain: one row per day (dt)
-- How customers felt at the start and the end of calls (-5..+5), and how many ended better than they began.
with

calls_src as (
    select * from calls
    where transcriber is not null
),

final as (
    select
        dt,
        count(*) as calls,
        round(avg(customer_sentiment), 2) as avg_customer_sentiment,
        round(avg(agent_sentiment), 2) as avg_agent_sentiment,
        round(avg(customer_sentiment_start), 2) as avg_customer_sentiment_start,
        round(avg(customer_sentiment_end), 2) as avg_customer_sentiment_end,
        round(avg(customer_sentiment_shift), 2) as avg_customer_sentiment_shift,
        sum(case when customer_sentiment_shift > 0 then 1 else 0 end) as calls_customer_improved,
        sum(case when customer_sentiment_shift < 0 then 1 else 0 end) as calls_customer_worsened,
        sum(case when customer_sentiment_end < 0 then 1 else 0 end) as calls_ending_negative,
        round(avg(customer_wpm), 1) as avg_customer_wpm,
        round(avg(agent_wpm), 1) as avg_agent_wpm
    from calls_src
    group by dt
)

select * from final
