-- v_agent_scorecard_weekly
-- grain: one row per week (week_start, the Monday of the UTC week), agent (agent_username) and evaluation form
-- The automated evaluations' scorecard: calls scored, average / lowest / highest score, how many passed,
-- failed automatically, needed improvement or exceeded expectations (from v_evaluation_scores). Calls whose
-- every question was not applicable count in calls_evaluated but in no score, rate or category.
with

scores as (
    select * from v_evaluation_scores
),

dated as (
    select
        date_trunc('week', cast(dt as date)) as week_start,
        agent_username,
        form,
        form_version,
        score_pct,
        passed,
        automatic_fail,
        performance_category
    from scores
),

final as (
    select
        cast(week_start as date) as week_start,
        agent_username,
        form,
        max(form_version) as form_version,
        count(*) as calls_evaluated,
        count(score_pct) as calls_scored,
        round(avg(score_pct), 2) as avg_score_pct,
        min(score_pct) as min_score_pct,
        max(score_pct) as max_score_pct,
        cast(sum(case when passed then 1 else 0 end) as bigint) as calls_passed,
        round(cast(sum(case when passed then 1 else 0 end) as double) / nullif(count(score_pct), 0), 4) as pass_rate,
        cast(sum(case when automatic_fail then 1 else 0 end) as bigint) as automatic_fails,
        cast(sum(case when performance_category = 'NEEDS_IMPROVEMENT' then 1 else 0 end) as bigint) as needs_improvement,
        cast(sum(case when performance_category = 'EXCEEDS_EXPECTATIONS' then 1 else 0 end) as bigint)
            as exceeds_expectations
    from dated
    group by 1, 2, 3
)

select * from final
