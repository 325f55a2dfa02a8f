-- v_agent_daily
-- grain: one row per day (dt) and agent (agent_username; 'unknown' for calls without a contact trace record)
-- The agent scorecard: calls, talk share, silence, interruptions and how their customers felt start to end.
with

calls_src as (
    select * from v_call_contacts
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
    from calls_src
    group by dt, agent_username
)

select * from final
