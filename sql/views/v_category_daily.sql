-- v_category_daily
-- grain: one row per day (dt) and category
-- How many calls each category matched, and what share of the day's calls that is.
with

categories_src as (
    select * from call_categories
),

calls_src as (
    select * from calls
),

daily_calls as (
    select
        dt,
        count(*) as day_calls
    from calls_src
    group by dt
),

daily_categories as (
    select
        dt,
        category,
        count(distinct contact_id) as calls,
        cast(sum(match_count) as bigint) as matches,
        round(avg(first_match_s), 1) as avg_first_match_s,
        max(rules_version) as rules_version
    from categories_src
    group by dt, category
),

final as (
    select
        c.dt,
        c.category,
        c.calls,
        c.matches,
        round(cast(c.calls as double) / nullif(d.day_calls, 0), 4) as share_of_calls,
        c.avg_first_match_s,
        c.rules_version
    from daily_categories as c
    left join daily_calls as d
        on c.dt = d.dt
)

select * from final
