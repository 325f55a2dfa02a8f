-- v_call_summary
-- grain: one row per call (contact_id, dt)
-- Talk, silence and interruption figures of every processed call, with ratios of the call's length, and
-- the customer's sentiment outcome: the one SQL definition (pipeline/steps/sentiment.py: outcome() is the same;
-- docs/metrics.md). customer_ended: NEGATIVE when customer_sentiment_end <= -1.0, POSITIVE when >= +1.0,
-- else NEUTRAL (NULL without an end score); customer_moved: ROSE when customer_sentiment_shift >= +1.0,
-- FELL when <= -1.0, else FLAT (NULL without a shift); customer_ended_happier: ended at least neutral and rose.
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
        case
            when customer_sentiment_end is null then null
            when customer_sentiment_end <= -1.0 then 'NEGATIVE'
            when customer_sentiment_end >= 1.0 then 'POSITIVE'
            else 'NEUTRAL'
        end as customer_ended,
        case
            when customer_sentiment_end is null or customer_sentiment_shift is null then null
            when customer_sentiment_shift >= 1.0 then 'ROSE'
            when customer_sentiment_shift <= -1.0 then 'FELL'
            else 'FLAT'
        end as customer_moved,
        coalesce(customer_sentiment_end > -1.0 and customer_sentiment_shift >= 1.0, false) as customer_ended_happier,
        customer_sentiment_q1,
        customer_sentiment_q2,
        customer_sentiment_q3,
        customer_sentiment_q4,
        agent_sentiment_shift,
        transcript_word_count,
        language_code,
        transcriber,
        processed_at
    from calls_src
)

select * from final
