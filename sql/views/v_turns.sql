-- v_turns
-- grain: one row per turn (contact_id, dt, turn_index)
-- Who said what, when, and how it sounded. Scalar columns only: QuickSight skips arrays.
with

turns_src as (
    select * from turns
),

calls_src as (
    select * from calls
),

final as (
    select
        t.contact_id,
        t.dt,
        t.turn_index,
        t.participant,
        t.begin_s,
        t.end_s,
        round(t.end_s - t.begin_s, 3) as duration_s,
        date_add('millisecond', cast(t.begin_s * 1000 as bigint), c.call_started_at) as spoken_at,
        date_add('millisecond', cast(t.begin_s * 1000 as bigint),
                 coalesce(c.call_started_local, c.call_started_at)) as spoken_at_local,
        t.text,
        t.word_count,
        t.confidence,
        t.sentiment,
        t.sentiment_positive,
        t.sentiment_negative,
        t.sentiment_neutral,
        t.sentiment_mixed,
        round(t.sentiment_positive - t.sentiment_negative, 4) as sentiment_score,
        t.loudness,
        t.is_interruption
    from turns_src as t
    left join calls_src as c
        on t.contact_id = c.contact_id
        and t.dt = c.dt
)

select * from final
