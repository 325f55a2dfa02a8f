-- v_call_contacts
-- grain: one row per call (contact_id, dt)
-- Every call with its talk and non-talk shares of the call's length, the customer's sentiment outcome
-- (customer_ended, customer_moved, customer_ended_happier from v_call_summary), who took it and from which
-- queue ('(no contact record)' without a contact trace record, has_contact_record false; '(no agent)' /
-- '(no queue)' when the record names none; Connect usernames hold no spaces or brackets),
-- the categories it matched (comma-separated, alphabetical; '' when none), and one column per contact
-- attribute named in AFTERCALL_CTR_ATTRIBUTES (attr_<name>, NULL when not set). The call's columns (c.*)
-- include summary: the engine's summary of the call (AFTERCALL_CALL_SUMMARY, imports), NULL when none.
with

calls_src as (
    select * from calls
),

outcomes_src as (
    select contact_id, dt, customer_ended, customer_moved, customer_ended_happier from v_call_summary
),

contacts_src as (
    select * from contacts
),

attributes_src as (
    select * from contact_attributes
),

categories_src as (
    select * from call_categories
),

categories as (
    select
        contact_id,
        dt,
        listagg(category, ', ') within group (order by category) as categories
    from categories_src
    group by contact_id, dt
),

attributes as (
    select
        contact_id,
        dt
        /* attribute columns */
    from attributes_src
    group by contact_id, dt
),

final as (
    select
        c.*,
        round(c.agent_talk_s / nullif(c.duration_s, 0), 4) as agent_talk_ratio,
        round(c.customer_talk_s / nullif(c.duration_s, 0), 4) as customer_talk_ratio,
        round(c.non_talk_s / nullif(c.duration_s, 0), 4) as non_talk_ratio,
        o.customer_ended,
        o.customer_moved,
        o.customer_ended_happier,
        t.contact_id is not null as has_contact_record,
        case when t.contact_id is null then '(no contact record)' else coalesce(t.agent_username, '(no agent)')
        end as agent_username,
        case when t.contact_id is null then '(no contact record)' else coalesce(t.queue_name, '(no queue)')
        end as queue_name,
        t.initiation_at,
        t.disconnect_at,
        coalesce(g.categories, '') as categories
        /* attribute values */
    from calls_src as c
    inner join outcomes_src as o
        on c.contact_id = o.contact_id
        and c.dt = o.dt
    left join contacts_src as t
        on c.contact_id = t.contact_id
        and c.dt = t.dt
    left join categories as g
        on c.contact_id = g.contact_id
        and c.dt = g.dt
    left join attributes as a
        on c.contact_id = a.contact_id
        and c.dt = a.dt
)

select * from final
