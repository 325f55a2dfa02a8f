-- v_call_summary
-- grain: one row per call (contact_id, dt)
-- Talk, silence and interruption figures of every processed call, with ratios of the call's length.
with

calls_src as (
    select * from calls
),

final as (
    select
        contact_id,
        dt,
        call_started_at,
        coalesce(call_started_local, call_started_at) as call_started_local,
        coalesce(timezone, 'UTC') as timezone,
        recording_uri,
        duration_s,
        agent_talk_s,
        customer_talk_s,
        non_talk_s,
        overlap_s,
        round(agent_talk_s / nullif(duration_s, 0), 4) as agent_talk_ratio,
        round(customer_talk_s / nullif(duration_s, 0), 4) as customer_talk_ratio,
        round(non_talk_s / nullif(duration_s, 0), 4) as non_talk_ratio,
        agent_interruptions,
        customer_interruptions,
        agent_loudness,
        customer_loudness,
        agent_wpm,
        customer_wpm,
        agent_sentiment,
        customer_sentiment,
        customer_sentiment_start,
        customer_sentiment_end,
        customer_sentiment_shift,
        customer_sentiment_q1,
        customer_sentiment_q2,
        customer_sentiment_q3,
        customer_sentiment_q4,
        agent_sentiment_shift,
        transcript_word_count,
        language_code,
        processed_at
    from calls_src
)

select * from final
