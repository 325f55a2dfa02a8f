-- v_agent_daily
-- grain: one row per day (dt) and agent (agent_username; '(no contact record)' for calls without a contact trace
-- record, '(no agent)' when the record names none)
-- The agent scorecard: calls, talk share, silence, interruptions and how their customers felt start to end.
-- Reads calls and contacts, not v_call_contacts: a scorecard over months needs neither the calls'
-- categories nor their attributes, and v_call_contacts would aggregate both for every call first.
with

calls_src as (
    select * from calls
),

contacts_src as (
    select * from contacts
),

calls_with_agent as (
    select
        c.dt,
        case when t.contact_id is null then '(no contact record)' else coalesce(t.agent_username, '(no agent)')
        end as agent_username,
        c.duration_s,
        c.agent_talk_s,
        c.customer_talk_s,
        c.non_talk_s,
        c.agent_interruptions,
        c.customer_interruptions,
        c.agent_wpm,
        c.customer_sentiment_start,
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
        agent_username,
        count(*) as calls,
        round(sum(duration_s) / 60.0, 1) as audio_minutes,
        round(sum(agent_talk_s) / nullif(sum(agent_talk_s + customer_talk_s), 0), 4) as agent_talk_share,
        round(sum(non_talk_s) / nullif(sum(duration_s), 0), 4) as non_talk_ratio,
        cast(sum(agent_interruptions) as bigint) as agent_interruptions,
        cast(sum(customer_interruptions) as bigint) as customer_interruptions,
        round(avg(agent_wpm), 1) as avg_agent_wpm,
        round(avg(customer_sentiment_start), 2) as avg_customer_sentiment_start,
        round(avg(customer_sentiment_end), 2) as avg_customer_sentiment_end,
        round(avg(customer_sentiment_shift), 2) as avg_customer_sentiment_shift
    from calls_with_agent
    group by dt, agent_username
)

select * from final
