-- v_queue_daily
-- grain: one row per day (dt) and queue (queue_name; 'unknown' for calls without a contact trace record)
-- Load and experience per queue: calls, handle time, silence, customer sentiment at the end.
with

calls_src as (
    select * from v_call_contacts
),

final as (
    select
        dt,
        queue_name,
        count(*) as calls,
        count(distinct contact_id) as contacts,
        round(avg(duration_s), 1) as avg_duration_s,
        round(sum(non_talk_s) / nullif(sum(duration_s), 0), 4) as non_talk_ratio,
        round(avg(customer_sentiment_end), 2) as avg_customer_sentiment_end,
        round(avg(customer_sentiment_shift), 2) as avg_customer_sentiment_shift
    from calls_src
    group by dt, queue_name
)

select * from final
