-- v_call_contacts
-- grain: one row per call (contact_id, dt)
-- Every call with who took it and from which queue ('unknown' without a contact trace record).
with

calls_src as (
    select * from calls
),

contacts_src as (
    select * from contacts
),

final as (
    select
        c.*,
        coalesce(t.agent_username, 'unknown') as agent_username,
        coalesce(t.queue_name, 'unknown') as queue_name,
        t.initiation_at,
        t.disconnect_at
    from calls_src as c
    left join contacts_src as t
        on c.contact_id = t.contact_id
        and c.dt = t.dt
)

select * from final
