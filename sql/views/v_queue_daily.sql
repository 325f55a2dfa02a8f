-- v_queue_daily
-- grain: one row per day (dt) and queue (queue_name; '(no contact record)' for calls without a contact trace
-- record, '(no queue)' when the record names none)
-- Load and experience per queue: calls, handle time, silence, customer sentiment at the end.
-- Reads calls and contacts, not v_call_contacts: per-queue figures over months need neither the calls'
-- categories nor their attributes, and v_call_contacts would aggregate both for every call first.
with

calls_src as (
    select * from calls
),

contacts_src as (
    select * from contacts
),

calls_with_queue as (
    select
        c.dt,
        c.contact_id,
        case when t.contact_id is null then '(no contact record)' else coalesce(t.queue_name, '(no queue)')
        end as queue_name,
        c.duration_s,
        c.non_talk_s,
        c.customer_sentiment_end,
        c.customer_sentiment_shift
    from calls_src as c
    left join contacts_src as t
        on c.contact_id = t.contact_id
        and c.dt = t.dt
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
    from calls_with_queue
    group by dt, queue_name
)

select * from final
