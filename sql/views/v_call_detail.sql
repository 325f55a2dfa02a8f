-- v_call_detail
-- grain: one row per turn (contact_id, dt, turn_index)
-- The drill-down of one call: every turn of the transcript with the call's who, when and how it
-- went beside it, so a sheet filtered to one contact_id shows the whole call. PII is already
-- redacted in turns ([PII], [PHONE], ...); the words as spoken stay in turns_raw. summary: the engine's
-- summary of the call (Call Analytics / Contact Lens), redacted the same way; NULL when it wrote none.
with

turns_src as (
    select * from v_turns
),

calls_src as (
    select * from v_call_contacts
),

final as (
    select
        t.contact_id,
        t.dt,
        c.call_started_at,
        c.call_started_local,
        c.timezone,
        c.agent_username,
        c.queue_name,
        c.duration_s,
        c.categories,
        c.customer_sentiment_start,
        c.customer_sentiment_end,
        c.customer_sentiment_shift,
        c.customer_ended,
        c.customer_moved,
        c.customer_ended_happier,
        c.has_contact_record,
        c.recording_uri,
        c.summary,
        t.turn_index,
        t.participant,
        t.begin_s,
        t.end_s,
        t.spoken_at,
        t.text,
        t.sentiment,
        t.sentiment_score,
        t.loudness,
        t.is_interruption
    from turns_src as t
    inner join calls_src as c
        on t.contact_id = c.contact_id
        and t.dt = c.dt
)

select * from final
