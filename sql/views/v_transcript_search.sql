-- v_transcript_search
-- grain: one row per turn (contact_id, dt, turn_index)
-- Transcript search: every turn with the call's agent, queue and categories, the turns before and after it
-- (context), and search_text, the turn's words normalised for matching: lower case, every run of characters
-- that are not letters or digits made one space, a space at each end. A phrase normalised the same way and
-- padded with spaces matches whole words whatever the case and punctuation:
--   where strpos(search_text, ' cancel my contract ') > 0
-- (`aftercall search` builds exactly that). Text is the redacted transcript, as in v_turns.
with

turns_src as (
    select * from v_call_detail
),

normalised as (
    select
        *,
        ' ' || trim(regexp_replace(lower(coalesce(text, '')), '[^\p{L}\p{N}]+', ' ')) || ' ' as search_text,
        lag(text) over (partition by dt, contact_id order by turn_index) as previous_text,
        lead(text) over (partition by dt, contact_id order by turn_index) as next_text
    from turns_src
),

final as (
    select
        dt,
        contact_id,
        call_started_at,
        agent_username,
        queue_name,
        has_contact_record,
        categories,
        turn_index,
        participant,
        begin_s,
        end_s,
        spoken_at,
        previous_text,
        text,
        next_text,
        search_text
    from normalised
)

select * from final
