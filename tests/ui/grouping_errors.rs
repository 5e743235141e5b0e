use aqueduct::prelude::*;

#[derive(Record)]
struct Sale {
    id: i64,
    category: String,
    price: f64,
}

fn main() {
    let _unknown_key = pipeline! {
        from_items::<Sale>(Vec::new())
        |> groupby(categroy)
        |> aggregate(n = count())
    };
    let _float_key = pipeline! {
        from_items::<Sale>(Vec::new())
        |> groupby(price)
        |> aggregate(n = count())
    };
    let _string_sum = pipeline! {
        from_items::<Sale>(Vec::new())
        |> groupby(id)
        |> aggregate(total = sum(category), avg = mean(category))
    };
    let _unknown_function = pipeline! {
        from_items::<Sale>(Vec::new())
        |> groupby(category)
        |> aggregate(total = summ(price), n = count(prise))
    };
    let _sort_unknown = pipeline! {
        from_items::<Sale>(Vec::new())
        |> sort(category, desc(pric))
    };
    let _dangling = pipeline! {
        from_items::<Sale>(Vec::new())
        |> groupby(category)
        |> filter(id > 3)
    };
    let _ungrouped = pipeline! {
        from_items::<Sale>(Vec::new())
        |> map_groups(|rows: Vec<Sale>| rows)
    };
}
