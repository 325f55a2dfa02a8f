-- v_call_contacts
-- grain: one row per call (contact_id, dt)
-- Every call with who took it and from which queue ('unknown' without a contact trace record), and one
-- column per contact attribute named in AFTERCALL_CTR_ATTRIBUTES (attr_<name>, NULL when not set).
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
        coalesce(t.agent_username, 'unknown') as agent_username,
        coalesce(t.queue_name, 'unknown') as queue_name,
        t.initiation_at,
        t.disconnect_at
        /* attribute values */
    from calls_src as c
    left join contacts_src as t
        on c.contact_id = t.contact_id
        and c.dt = t.dt
    left join attributes as a
        on c.contact_id = a.contact_id
        and c.dt = a.dt
)

select * from final
