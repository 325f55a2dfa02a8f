-- v_evaluation_scores
-- grain: one row per call (contact_id, dt) and evaluation form
-- Each call's automated evaluation score (docs/evaluations.md): the sum over its applicable questions of
-- weight x points / max_points, the weights being the questions' shares of the call's score in percent
-- (redistributed over the applicable ones when scoring, so they add up to 100). An automatic-fail answer
-- scores the whole evaluation 0 and never passes, as in Amazon Connect. passed: score_pct >= the form's
-- pass_score; performance_category: Connect's NEEDS_IMPROVEMENT / EXCEEDS_EXPECTATIONS thresholds, and
-- MEETS_EXPECTATIONS (aftercall's name) in between. NULL scores: every question was not applicable.
-- The agent and queue come from the contact trace records, named as in v_call_contacts: '(no contact record)'
-- without one, '(no agent)' / '(no queue)' when the record names none.
with

evaluations_src as (
    select * from evaluations
),

contacts_src as (
    select * from contacts
),

calls_src as (
    select * from calls
),

per_call as (
    select
        dt,
        contact_id,
        form,
        max(form_version) as form_version,
        count(*) as questions,
        cast(sum(case when not_applicable then 1 else 0 end) as bigint) as questions_not_applicable,
        cast(sum(case when not_applicable then 0 else points end) as bigint) as points,
        cast(sum(case when not_applicable then 0 else max_points end) as bigint) as max_points,
        sum(case when not_applicable then 0.0 else weight * points / nullif(max_points, 0) end) as weighted_score,
        sum(case when not_applicable then 0.0 else weight end) as applicable_weight,
        bool_or(automatic_fail) as automatic_fail,
        max(pass_score) as pass_score,
        max(needs_improvement_below) as needs_improvement_below,
        max(exceeds_expectations_from) as exceeds_expectations_from
    from evaluations_src
    group by dt, contact_id, form
),

scored as (
    select
        *,
        case
            when applicable_weight = 0 then null
            when automatic_fail then 0.0
            else round(100.0 * weighted_score / applicable_weight, 2)
        end as score_pct
    from per_call
),

final as (
    select
        s.dt,
        s.contact_id,
        case when t.contact_id is null then '(no contact record)' else coalesce(t.agent_username, '(no agent)')
        end as agent_username,
        case when t.contact_id is null then '(no contact record)' else coalesce(t.queue_name, '(no queue)')
        end as queue_name,
        c.call_started_at,
        s.form,
        s.form_version,
        s.questions,
        s.questions_not_applicable,
        s.points,
        s.max_points,
        s.score_pct,
        s.automatic_fail,
        case
            when s.score_pct is null then null
            when s.automatic_fail then false
            else s.score_pct >= s.pass_score
        end as passed,
        case
            when s.score_pct is null then null
            when s.score_pct < s.needs_improvement_below then 'NEEDS_IMPROVEMENT'
            when s.score_pct >= s.exceeds_expectations_from then 'EXCEEDS_EXPECTATIONS'
            else 'MEETS_EXPECTATIONS'
        end as performance_category,
        s.pass_score
    from scored as s
    left join contacts_src as t
        on s.contact_id = t.contact_id
        and s.dt = t.dt
    left join calls_src as c
        on s.contact_id = c.contact_id
        and s.dt = c.dt
)

select * from final
