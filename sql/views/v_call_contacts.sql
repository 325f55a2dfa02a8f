-- v_call_contacts
-- grain: one row per call (contact_id, dt)
-- Every call with its talk and non-talk shares of the call's length, who took it and from which queue
-- ('unknown' without a contact trace record), the categories it matched (comma-separated, alphabetical;
-- '' when none), and one column per contact attribute named in AFTERCALL_CTR_ATTRIBUTES (attr_<name>,
-- NULL when not set).
with

calls_src as (
    select * from calls
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
        coalesce(t.agent_username, 'unknown') as agent_username,
        coalesce(t.queue_name, 'unknown') as queue_name,
        t.initiation_at,
        t.disconnect_at,
        coalesce(g.categories, '') as categories
        /* attribute values */
    from calls_src as c
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
